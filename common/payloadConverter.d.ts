import type { PayloadConverter } from '@temporalio/common';

export declare const UNDECODABLE: 'atelierUndecodablePayload';
export declare function undecodableReason(value: unknown): string | undefined;
export declare const payloadConverter: PayloadConverter;
