/**
 * Class labels: probes accept class names (strings) or class indices, and keep the class names so that
 * saved probes, metrics and rankings speak in names.
 */
export type Labels = readonly string[] | ArrayLike<number>;

export interface EncodedLabels {
  codes: Int32Array;
  classes: string[];
}

function isStringArray(y: Labels): y is readonly string[] {
  return y.length > 0 && typeof y[0] === "string";
}

/**
 * Encodes labels as indices into `classes`. Without `classes`: names are sorted (so the same label set
 * always gets the same indices); indices must be 0..k−1 and are named "0".."k−1".
 */
export function encodeLabels(y: Labels, classes?: readonly string[]): EncodedLabels {
  const codes = new Int32Array(y.length);
  if (isStringArray(y)) {
    const names = classes ? [...classes] : [...new Set(y)].sort();
    const index = new Map(names.map((c, i) => [c, i]));
    for (let i = 0; i < y.length; i++) {
      const c = index.get(y[i]);
      if (c === undefined) throw new Error(`label '${y[i]}' (row ${i}) is not one of the probe's classes`);
      codes[i] = c;
    }
    return { codes, classes: names };
  }
  let max = -1;
  for (let i = 0; i < y.length; i++) {
    const v = y[i] as number;
    if (!Number.isInteger(v) || v < 0) throw new Error(`label ${v} (row ${i}) is not a class index`);
    codes[i] = v;
    if (v > max) max = v;
  }
  const names = classes ? [...classes] : Array.from({ length: max + 1 }, (_, i) => String(i));
  if (max >= names.length) throw new Error(`label ${max} is out of range for ${names.length} classes`);
  return { codes, classes: names };
}
