/**
 * The runs of consecutive integers in sorted, duplicate-free `values`, as half-open [first, end)
 * ranges: [0, 1, 2, 5, 7, 8] → [[0, 3], [5, 6], [7, 9]].
 */
export function consecutiveRuns(values: readonly number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j] + 1) j++;
    runs.push([values[i], values[j] + 1]);
    i = j + 1;
  }
  return runs;
}
