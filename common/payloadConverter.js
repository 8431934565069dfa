// The worker's payload converter: the SDK's default, except that a payload it cannot decode (an
// unknown encoding, broken JSON sent with the `temporal` CLI) becomes a marker value instead of an
// error. An error there would fail the workflow task again and again; the marker reaches the
// handler, whose validation refuses it with the reason. Plain JavaScript (types beside it in
// payloadConverter.d.ts): the worker loads it with require(), and the workflow bundle includes it.
import { defaultPayloadConverter } from '@temporalio/common';

/** The field of the marker that stands for a payload that could not be decoded. */
export const UNDECODABLE = 'atelierUndecodablePayload';

/** The reason a value is the marker of an undecodable payload, or undefined. */
export function undecodableReason(value) {
  const reason = typeof value === 'object' && value !== null ? value[UNDECODABLE] : undefined;
  return typeof reason === 'string' ? reason : undefined;
}

export const payloadConverter = {
  toPayload(value) {
    return defaultPayloadConverter.toPayload(value);
  },
  fromPayload(payload) {
    try {
      return defaultPayloadConverter.fromPayload(payload);
    } catch (error) {
      return { [UNDECODABLE]: (error instanceof Error ? error.message : String(error)).slice(0, 200) };
    }
  },
};
