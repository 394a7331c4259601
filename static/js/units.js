// How a value with a unit reads on a chart, a stat or a gauge: the twin of events/units.py (the
// same table, the same steps; events/tests/test_units.py runs both on one table of cases and
// holds them to the same text). scaleFor(values, unit) -> [divisor, label]: show value / divisor
// followed by label, the largest unit of the family the largest value is at least one of (1200 ms
// is 1.2 s). Bytes scale by 1024 (KiB, MiB …), KB/MB/GB by 1000, bits by 1000; "<unit>/s" scales
// its unit and keeps "/s"; any other unit (%, req/s, free text) is a suffix, never scaled.

export const NO_VALUE = "–";
const MAX_DECIMALS = 6;
const HUGE = 1e21;
const PER_SECOND = "/s";

export const FAMILIES = [
  [["ns", 1], ["µs", 1e3], ["ms", 1e6], ["s", 1e9], ["min", 6e10], ["h", 3.6e12], ["d", 8.64e13]],
  [["bytes", 1], ["KiB", 1024], ["MiB", 1024 ** 2], ["GiB", 1024 ** 3], ["TiB", 1024 ** 4],
    ["PiB", 1024 ** 5]],
  [["bytes", 1], ["KB", 1e3], ["MB", 1e6], ["GB", 1e9], ["TB", 1e12]],
  [["bits", 1], ["kbit", 1e3], ["Mbit", 1e6], ["Gbit", 1e9], ["Tbit", 1e12]],
];
const ALIASES = { us: "µs" };

function family(unit) {
  const name = ALIASES[unit] || unit;
  for (const members of FAMILIES) {
    for (const [label, size] of members) if (label === name) return [members, size];
  }
  return null;
}

export function scaleFor(values, unit) {
  unit = unit || "";
  let suffix = "";
  let found = family(unit);
  if (found === null && unit.endsWith(PER_SECOND)) {
    suffix = PER_SECOND;
    found = family(unit.slice(0, -PER_SECOND.length));
  }
  let largest = 0;
  for (const v of values) if (v !== null && v !== undefined && Math.abs(v) > largest) largest = Math.abs(v);
  if (found === null || largest === 0) return [1, unit];
  const [members, size] = found;
  const base = largest * size;
  let [label, target] = members[0];
  for (const [name, step] of members) if (step <= base) [label, target] = [name, step];
  if (target === size) return [1, label + suffix];
  return [target / size, label + suffix];
}

export function numberText(value) {
  const magnitude = Math.abs(value);
  if (magnitude >= HUGE) return String(value); // past toFixed: the shortest text, as Python's repr
  let decimals = 2;
  while (decimals < MAX_DECIMALS && magnitude * 10 ** decimals > 0 && magnitude * 10 ** decimals < 10) {
    decimals += 1;
  }
  let text = magnitude.toFixed(decimals);
  if (text.includes(".")) text = text.replace(/0+$/, "").replace(/\.$/, "");
  const [whole, fraction] = text.split(".");
  text = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (fraction ? `.${fraction}` : "");
  return value < 0 && /[1-9]/.test(text) ? `-${text}` : text;
}

export function withLabel(text, label) {
  if (!label) return text;
  return label === "%" ? `${text}${label}` : `${text} ${label}`;
}

export function formatValue(value, unit = "") {
  if (value === null || value === undefined) return NO_VALUE;
  const [divisor, label] = scaleFor([value], unit);
  return withLabel(numberText(value / divisor), label);
}
