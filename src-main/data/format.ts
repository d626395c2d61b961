/** Numbers in error messages, grouped for reading: 47040016 → "47 040 016". */
export function fmtInt(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
}
