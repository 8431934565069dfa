// Slack settings: who decides for which collection, in which channel, and the app's secrets.
// The collections file (ATELIER_SLACK_COLLECTIONS) holds a `default` entry and one entry per
// collection that differs; a collection entry overrides the default field by field.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { projectRoot } from '../config.ts';
import type { Config } from '../config.ts';

const channelId = z.string().regex(/^[CGD][A-Z0-9]{2,}$/, 'expected a channel ID such as C0123456789 (a #name does not work: messages are updated by ID)');
const userId = z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'expected a Slack user ID such as U0123456789');
const groupId = z.string().regex(/^S[A-Z0-9]{2,}$/, 'expected a user group ID such as S0123456789');

const entrySchema = z
  .object({
    /** Where approval requests are posted. */
    channel: channelId,
    /** Slack user IDs allowed to decide. */
    approvers: z.array(userId),
    /** A user group whose members may decide (needs the usergroups:read scope). */
    approverGroup: groupId,
    /** Where a request goes when its reminder is due (besides the reminder in the thread). */
    escalationChannel: channelId,
    /** Who the escalation mentions: a user group or a user. */
    escalationMention: z.union([groupId, userId], { error: 'expected a user group ID (S...) or a user ID (U...)' }),
  })
  .partial()
  .strict();

const fileSchema = z.record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected "default" or a collection id'), entrySchema);

export interface CollectionSlackSettings {
  collectionId: string;
  channel: string;
  approvers: string[];
  approverGroup?: string;
  escalationChannel?: string;
  escalationMention?: string;
}

export class SlackSettingsError extends Error {
  constructor(
    /** The collections file, or `the environment`. */
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Invalid Slack settings in ${source}:\n  ${problems.join('\n  ')}`);
    this.name = 'SlackSettingsError';
  }
}

/** Per-collection Slack settings, complete and checked. */
export class SlackCollections {
  private constructor(
    readonly file: string,
    private readonly entries: Record<string, Partial<CollectionSlackSettings>>,
  ) {}

  /** Reads and checks the file; a SlackSettingsError names the file and each bad field. */
  static load(file: string): SlackCollections {
    const resolved = path.resolve(projectRoot, file);
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(resolved, 'utf8'));
    } catch (error) {
      const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (set ATELIER_SLACK_COLLECTIONS)' : (error as Error).message;
      throw new SlackSettingsError(resolved, [why]);
    }
    return SlackCollections.parse(raw, resolved);
  }

  static parse(raw: unknown, file = '(inline)'): SlackCollections {
    const parsed = fileSchema.safeParse(raw);
    if (!parsed.success) {
      throw new SlackSettingsError(
        file,
        parsed.error.issues.map((i) => {
          const where = i.path.join('.') || '(file)';
          return i.code === 'unrecognized_keys' ? `${where}: unknown field ${i.keys.map((k) => `"${k}"`).join(', ')}` : `${where}: ${i.message}`;
        }),
      );
    }
    const entries = parsed.data;
    const problems: string[] = [];
    if (!entries.default) problems.push('default: missing; it applies to every collection without its own entry');
    for (const [name, entry] of Object.entries(entries)) {
      const merged = { ...entries.default, ...entry };
      if (!merged.channel) problems.push(`${name}.channel: missing (and no default channel)`);
      if (!merged.approvers?.length && !merged.approverGroup) {
        problems.push(`${name}: needs "approvers" (user IDs) or "approverGroup" (a user group ID); nobody could decide otherwise`);
      }
      if (merged.escalationMention && !merged.escalationChannel) problems.push(`${name}.escalationMention: needs an escalationChannel to post in`);
    }
    if (problems.length > 0) throw new SlackSettingsError(file, problems);
    return new SlackCollections(file, entries);
  }

  /** The collection's settings: its entry over the default one. */
  forCollection(collectionId: string): CollectionSlackSettings {
    const merged = { ...this.entries.default, ...this.entries[collectionId] };
    return {
      collectionId,
      channel: merged.channel!,
      approvers: merged.approvers ?? [],
      approverGroup: merged.approverGroup,
      escalationChannel: merged.escalationChannel,
      escalationMention: merged.escalationMention,
    };
  }
}

/** The Web API base URL as WebClient wants it (with the trailing slash). */
export const slackApiUrl = (config: Config) => `${config.ATELIER_SLACK_API_URL}/`;

export interface SlackAppSecrets {
  botToken: string;
  /** HTTP mode: every request is verified with it. */
  signingSecret?: string;
  /** Socket Mode: the app-level token (connections:write). */
  appToken?: string;
  /** The ed25519 secret key (hex) the app signs decisions with; workers hold its public key. */
  decisionKey: string;
}

/**
 * Checks that the secrets the Slack app needs are there and look right. Messages name the
 * variable and the expected form, never the value.
 */
export function slackAppSecrets(config: Config): SlackAppSecrets {
  const problems = botTokenProblems(config);
  const botToken = config.ATELIER_SLACK_BOT_TOKEN;
  if (config.ATELIER_SLACK_SOCKET_MODE) {
    const appToken = config.ATELIER_SLACK_APP_TOKEN;
    if (!appToken) problems.push('ATELIER_SLACK_APP_TOKEN: missing; Socket Mode needs an app-level token (xapp-...) with connections:write');
    else if (!appToken.startsWith('xapp-')) problems.push('ATELIER_SLACK_APP_TOKEN: expected an app-level token starting with xapp- (value not shown)');
  } else {
    const secret = config.ATELIER_SLACK_SIGNING_SECRET;
    if (!secret) problems.push('ATELIER_SLACK_SIGNING_SECRET: missing; every request is verified with it (Basic Information > App Credentials)');
    else if (secret.length < 16) problems.push('ATELIER_SLACK_SIGNING_SECRET: too short to be a signing secret (value not shown)');
  }
  if (!config.ATELIER_SLACK_DECISION_KEY) {
    problems.push(
      'ATELIER_SLACK_DECISION_KEY: missing; the app signs every decision with it (atelier keys new slack-app makes a pair; workers get its public key as ATELIER_SLACK_APP_PUBLIC_KEY)',
    );
  }
  if (problems.length > 0) throw new SlackSettingsError('the environment', problems);
  return {
    decisionKey: config.ATELIER_SLACK_DECISION_KEY!,
    botToken: botToken!,
    signingSecret: config.ATELIER_SLACK_SOCKET_MODE ? undefined : config.ATELIER_SLACK_SIGNING_SECRET,
    appToken: config.ATELIER_SLACK_SOCKET_MODE ? config.ATELIER_SLACK_APP_TOKEN : undefined,
  };
}

function botTokenProblems(config: Config): string[] {
  const token = config.ATELIER_SLACK_BOT_TOKEN;
  if (!token) return ['ATELIER_SLACK_BOT_TOKEN: missing (the Bot User OAuth Token, xoxb-...)'];
  if (!token.startsWith('xoxb-')) return ['ATELIER_SLACK_BOT_TOKEN: expected a bot token starting with xoxb- (value not shown)'];
  return [];
}

/** The worker's bot token when Slack is configured, undefined when it is not; throws when it looks wrong. */
export function slackBotToken(config: Config): string | undefined {
  if (!config.ATELIER_SLACK_BOT_TOKEN) return undefined;
  const problems = botTokenProblems(config);
  if (problems.length > 0) throw new SlackSettingsError('the environment', problems);
  return config.ATELIER_SLACK_BOT_TOKEN;
}
