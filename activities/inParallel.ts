// A bounded number of calls at once over a list, results in the list's order.

/** `work` for each item, at most `limit` at a time; `onDone` after each with how many have finished. */
export async function mapInParallel<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>, onDone?: (done: number) => void): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]!);
        onDone?.(++done);
      }
    }),
  );
  return results;
}
