// Figures the benchmarks print: the median of a run's timings, and a time as a right-aligned column.

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Milliseconds with one decimal, padded to 8 characters for a table. */
export const ms = (value: number) => value.toFixed(1).padStart(8);
