// The Slack settings a person writes: the collections file and the secrets, with errors that
// name the file and the field (and never print a secret).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SlackCollections, SlackSettingsError, slackAppSecrets, slackBotToken } from '../common/slack/settings.ts';
import { loadConfig } from '../common/config.ts';

const problemsOf = (run: () => unknown): string[] => {
  try {
    run();
  } catch (error) {
    if (error instanceof SlackSettingsError) return error.problems;
    throw error;
  }
  throw new Error('expected a SlackSettingsError');
};

describe('Slack collections file', () => {
  it('merges a collection entry over the default, field by field', () => {
    const collections = SlackCollections.parse({
      default: { channel: 'C0DEFAULT', approvers: ['U0MARIA'], escalationChannel: 'C0LEADS' },
      critters: { channel: 'C0CRITTERS', approverGroup: 'S0ART' },
    });
    expect(collections.forCollection('critters')).toEqual({
      collectionId: 'critters',
      channel: 'C0CRITTERS',
      approvers: ['U0MARIA'],
      approverGroup: 'S0ART',
      escalationChannel: 'C0LEADS',
      escalationMention: undefined,
    });
    expect(collections.forCollection('anything-else')).toMatchObject({ channel: 'C0DEFAULT', approvers: ['U0MARIA'], approverGroup: undefined });
  });

  it('names the file and each bad field', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-slack-settings-'));
    const file = path.join(dir, 'slack.json');
    fs.writeFileSync(file, JSON.stringify({ default: { channel: '#art', approvers: ['maria'] }, critters: { aprovers: ['U0X'] } }));
    try {
      SlackCollections.load(file);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(SlackSettingsError);
      const message = (error as Error).message;
      expect(message).toContain(file);
      expect(message).toMatch(/default\.channel: expected a channel ID/);
      expect(message).toMatch(/default\.approvers\.0: expected a Slack user ID/);
      expect(message).toMatch(/critters: unknown field "aprovers"/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('needs a default entry, a channel, and someone who may decide', () => {
    expect(problemsOf(() => SlackCollections.parse({ critters: { channel: 'C0X', approvers: ['U0X'] } }))).toContain(
      'default: missing; it applies to every collection without its own entry',
    );
    expect(problemsOf(() => SlackCollections.parse({ default: { approvers: ['U0X'] } }))).toContain('default.channel: missing (and no default channel)');
    expect(problemsOf(() => SlackCollections.parse({ default: { channel: 'C0X' } })).join('\n')).toMatch(/default: needs "approvers".*or "approverGroup"/);
  });

  it('says when the file is missing', () => {
    expect(problemsOf(() => SlackCollections.load('/nonexistent/slack.json'))).toEqual(['no such file (set ATELIER_SLACK_COLLECTIONS)']);
  });
});

describe('Slack secrets', () => {
  const env = (extra: Record<string, string>) => loadConfig({ ...process.env, ATELIER_SLACK_BOT_TOKEN: '', ATELIER_SLACK_SIGNING_SECRET: '', ATELIER_SLACK_APP_TOKEN: '', ...extra });

  it('without a bot token Slack is off; a wrong-looking token is refused without being printed', () => {
    expect(slackBotToken(env({}))).toBeUndefined();
    const secretish = 'xoxp-user-token-that-must-not-be-printed';
    const problems = problemsOf(() => slackBotToken(env({ ATELIER_SLACK_BOT_TOKEN: secretish })));
    expect(problems.join('\n')).toMatch(/ATELIER_SLACK_BOT_TOKEN: expected a bot token starting with xoxb-/);
    expect(problems.join('\n')).not.toContain(secretish);
  });

  it('the HTTP app needs the signing secret; Socket Mode needs an app token instead', () => {
    expect(problemsOf(() => slackAppSecrets(env({ ATELIER_SLACK_BOT_TOKEN: 'xoxb-1' }))).join('\n')).toMatch(/ATELIER_SLACK_SIGNING_SECRET: missing/);
    expect(slackAppSecrets(env({ ATELIER_SLACK_BOT_TOKEN: 'xoxb-1', ATELIER_SLACK_SIGNING_SECRET: '0123456789abcdef0123456789abcdef' }))).toMatchObject({ botToken: 'xoxb-1' });
    expect(problemsOf(() => slackAppSecrets(env({ ATELIER_SLACK_BOT_TOKEN: 'xoxb-1', ATELIER_SLACK_SOCKET_MODE: 'true' }))).join('\n')).toMatch(/ATELIER_SLACK_APP_TOKEN: missing/);
    expect(slackAppSecrets(env({ ATELIER_SLACK_BOT_TOKEN: 'xoxb-1', ATELIER_SLACK_SOCKET_MODE: 'true', ATELIER_SLACK_APP_TOKEN: 'xapp-1' }))).toMatchObject({ appToken: 'xapp-1', signingSecret: undefined });
  });
});
