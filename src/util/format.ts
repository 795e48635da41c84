/** A fraction as a percentage for people: 0.8512 → "85.1%" (`digits` decimals). */
export function percent(fraction: number, digits = 1): string {
  return `${(100 * fraction).toFixed(digits)}%`;
}
