// The Slack settings a person writes: the collections file and the secrets, with errors that
// name the file and the field (and never print a secret).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SlackCollections, SlackSettingsError, slackAppSecrets, slackBotToken } from '../common/slack/settings.ts';
import { ConfigError, loadConfig } from '../common/config.ts';
import { newDecisionKey } from '../common/decision.ts';

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
  const env = (extra: Record<string, string>) =>
    loadConfig({
      ...process.env,
      ATELIER_SLACK_BOT_TOKEN: '',
      ATELIER_SLACK_SIGNING_SECRET: '',
      ATELIER_SLACK_APP_TOKEN: '',
      ATELIER_SLACK_DECISION_KEY: '',
      ATELIER_SLACK_APP_PUBLIC_KEY: '',
      ...extra,
    });
  const decisionKey = newDecisionKey();
  /** What every app needs besides its receiver's secret: the bot token and the decision-signing key. */
  const app = { ATELIER_SLACK_BOT_TOKEN: 'xoxb-1', ATELIER_SLACK_DECISION_KEY: decisionKey.secretKey };

  it('without a bot token Slack is off; a wrong-looking token is refused without being printed', () => {
    expect(slackBotToken(env({}))).toBeUndefined();
    const secretish = 'xoxp-user-token-that-must-not-be-printed';
    const problems = problemsOf(() => slackBotToken(env({ ATELIER_SLACK_BOT_TOKEN: secretish })));
    expect(problems.join('\n')).toMatch(/ATELIER_SLACK_BOT_TOKEN: expected a bot token starting with xoxb-/);
    expect(problems.join('\n')).not.toContain(secretish);
  });

  it('the HTTP app needs the signing secret; Socket Mode needs an app token instead', () => {
    expect(problemsOf(() => slackAppSecrets(env(app))).join('\n')).toMatch(/ATELIER_SLACK_SIGNING_SECRET: missing/);
    expect(slackAppSecrets(env({ ...app, ATELIER_SLACK_SIGNING_SECRET: '0123456789abcdef0123456789abcdef' }))).toMatchObject({ botToken: 'xoxb-1' });
    expect(problemsOf(() => slackAppSecrets(env({ ...app, ATELIER_SLACK_SOCKET_MODE: 'true' }))).join('\n')).toMatch(/ATELIER_SLACK_APP_TOKEN: missing/);
    expect(slackAppSecrets(env({ ...app, ATELIER_SLACK_SOCKET_MODE: 'true', ATELIER_SLACK_APP_TOKEN: 'xapp-1' }))).toMatchObject({
      appToken: 'xapp-1',
      signingSecret: undefined,
    });
  });

  it('the app needs its decision-signing key, in either mode; the message says where the public key goes', () => {
    const http = { ATELIER_SLACK_BOT_TOKEN: 'xoxb-1', ATELIER_SLACK_SIGNING_SECRET: '0123456789abcdef0123456789abcdef' };
    const socket = { ATELIER_SLACK_BOT_TOKEN: 'xoxb-1', ATELIER_SLACK_SOCKET_MODE: 'true', ATELIER_SLACK_APP_TOKEN: 'xapp-1' };
    for (const receiver of [http, socket]) {
      const problems = problemsOf(() => slackAppSecrets(env(receiver)));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^ATELIER_SLACK_DECISION_KEY: missing; the app signs every decision with it/);
      expect(problems[0]).toContain('ATELIER_SLACK_APP_PUBLIC_KEY');
      expect(slackAppSecrets(env({ ...receiver, ATELIER_SLACK_DECISION_KEY: decisionKey.secretKey })).decisionKey).toBe(decisionKey.secretKey);
    }
    // Every missing secret is named at once.
    expect(problemsOf(() => slackAppSecrets(env({}))).map((p) => p.split(':')[0])).toEqual([
      'ATELIER_SLACK_BOT_TOKEN',
      'ATELIER_SLACK_SIGNING_SECRET',
      'ATELIER_SLACK_DECISION_KEY',
    ]);
  });

  it('a malformed decision key is refused without being printed; a malformed public key is shown', () => {
    const configProblems = (extra: Record<string, string>): string[] => {
      try {
        env(extra);
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      throw new Error('expected a ConfigError');
    };
    const secretish = `${decisionKey.secretKey.slice(0, 60)}XYZW`;
    const [secretProblem] = configProblems({ ATELIER_SLACK_DECISION_KEY: secretish });
    expect(secretProblem).toMatch(/^ATELIER_SLACK_DECISION_KEY=\(value not shown\): expected an ed25519 secret key: 64 lowercase hex digits/);
    expect(secretProblem).not.toContain(secretish);
    // The public key is no secret: the message shows it.
    const [publicProblem] = configProblems({ ATELIER_SLACK_APP_PUBLIC_KEY: decisionKey.publicKey.toUpperCase() });
    expect(publicProblem).toMatch(/^ATELIER_SLACK_APP_PUBLIC_KEY="[0-9A-F]{64}": expected an ed25519 public key: 64 lowercase hex digits/);
    expect(env({ ATELIER_SLACK_APP_PUBLIC_KEY: decisionKey.publicKey }).ATELIER_SLACK_APP_PUBLIC_KEY).toBe(decisionKey.publicKey);
  });
});
