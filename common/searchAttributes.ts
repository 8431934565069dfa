// Custom search attributes: registered on the server by the stack, set by the workflow,
// queried by the CLI and the Web UI. Safe to import from workflow code.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const AtelierCollection = defineSearchAttributeKey('AtelierCollection', SearchAttributeType.KEYWORD);
export const AtelierStage = defineSearchAttributeKey('AtelierStage', SearchAttributeType.KEYWORD);
export const AtelierApprover = defineSearchAttributeKey('AtelierApprover', SearchAttributeType.KEYWORD);
export const AtelierTokenId = defineSearchAttributeKey('AtelierTokenId', SearchAttributeType.INT);
export const AtelierContentCid = defineSearchAttributeKey('AtelierContentCid', SearchAttributeType.KEYWORD);
/** The draft's 64-bit perceptual hash (16 hex digits, activities/checks.ts): later drafts of the collection are compared with it. */
export const AtelierPerceptualHash = defineSearchAttributeKey('AtelierPerceptualHash', SearchAttributeType.KEYWORD);

export const atelierSearchAttributes = [AtelierCollection, AtelierStage, AtelierApprover, AtelierTokenId, AtelierContentCid, AtelierPerceptualHash] as const;
