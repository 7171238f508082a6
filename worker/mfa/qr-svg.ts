/**
 * A QR code as inline SVG, for the console's "add an authenticator app" page: no script,
 * no image from elsewhere and no inline style, so the page's CSP holds as it is. The
 * encoder is the one qrcode-terminal vendors (already a dependency of the CLI).
 */
import QRCode from 'qrcode-terminal/vendor/QRCode/index.js';
import levels from 'qrcode-terminal/vendor/QRCode/QRErrorCorrectLevel.js';

/** Modules of light margin around the code, as the QR specification asks. */
const QUIET_ZONE = 4;

/** The dark modules of `text`'s QR code (error correction M), row by row. */
export function qrModules(text: string): boolean[][] {
  // The vendored encoder writes one byte per UTF-16 unit: only ASCII is encoded faithfully.
  if (!/^[\x20-\x7e]*$/.test(text)) throw new RangeError('the QR encoder takes printable ASCII only');
  const code = new QRCode(-1, levels.M);
  code.addData(text);
  code.make();
  const size = code.getModuleCount();
  return Array.from({ length: size }, (_, row) => Array.from({ length: size }, (_, col) => code.isDark(row, col)));
}

/**
 * The SVG markup: one path of unit squares on a white square, scaled by the viewBox.
 * Built from numbers only, so nothing in it needs escaping; `label` names it for screen readers.
 */
export function qrSvg(text: string, label: string): string {
  const modules = qrModules(text);
  const size = modules.length + 2 * QUIET_ZONE;
  let path = '';
  modules.forEach((row, y) => {
    row.forEach((dark, x) => {
      if (dark) path += `M${x + QUIET_ZONE} ${y + QUIET_ZONE}h1v1h-1z`;
    });
  });
  const name = label.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
  return `<svg xmlns="http://www.w3.org/2000/svg" class="qr" role="img" aria-label="${name}" viewBox="0 0 ${size} ${size}" width="${size * 5}" height="${size * 5}" shape-rendering="crispEdges"><rect width="${size}" height="${size}" fill="#fff"/><path fill="#000" d="${path}"/></svg>`;
}
