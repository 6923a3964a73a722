// A small horizontal bar chart as SVG, with no dependency: a few panels of labelled bars is all the
// benchmark report draws, and the file must render on GitHub (no scripts, no external fonts).

export interface ChartBar {
  label: string;
  value: number;
  /** Drawn in the accent colour: the module's own variants. */
  highlight?: boolean;
}

export interface ChartPanel {
  title: string;
  /** Shown after each value, e.g. "ops/s" or "ms". */
  unit: string;
  bars: ChartBar[];
  /** A vertical reference line, e.g. a target (in the panel's unit). */
  marker?: { value: number; label: string };
}

const WIDTH = 840;
const LABEL_WIDTH = 300;
const VALUE_WIDTH = 120;
const BAR_HEIGHT = 18;
const BAR_GAP = 6;
const TITLE_HEIGHT = 28;
const PANEL_GAP = 18;
const PLOT_WIDTH = WIDTH - LABEL_WIDTH - VALUE_WIDTH;

const escape = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function formatValue(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** Renders the panels one under the other, each scaled to its own largest value. */
export function renderBarChart(title: string, panels: readonly ChartPanel[]): string {
  const parts: string[] = [];
  let y = 36;
  parts.push(`<text x="12" y="22" font-size="15" font-weight="bold">${escape(title)}</text>`);
  for (const panel of panels) {
    parts.push(
      `<text x="12" y="${y + 16}" font-size="13" font-weight="bold">${escape(panel.title)}</text>`,
    );
    y += TITLE_HEIGHT;
    const top = y;
    const largest = Math.max(...panel.bars.map((bar) => bar.value), panel.marker?.value ?? 0, 1e-9);
    const scale = PLOT_WIDTH / largest;
    for (const bar of panel.bars) {
      const width = Math.max(1, bar.value * scale);
      const fill = bar.highlight ? '#d9480f' : '#868e96';
      parts.push(
        `<text x="${LABEL_WIDTH - 8}" y="${y + 13}" font-size="12" text-anchor="end">${escape(bar.label)}</text>`,
        `<rect x="${LABEL_WIDTH}" y="${y}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" fill="${fill}"/>`,
        `<text x="${(LABEL_WIDTH + width + 6).toFixed(1)}" y="${y + 13}" font-size="12">${escape(`${formatValue(bar.value)} ${panel.unit}`)}</text>`,
      );
      y += BAR_HEIGHT + BAR_GAP;
    }
    if (panel.marker) {
      const x = (LABEL_WIDTH + panel.marker.value * scale).toFixed(1);
      parts.push(
        `<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${y - BAR_GAP + 4}" stroke="#1971c2" stroke-dasharray="4 3"/>`,
        `<text x="${x}" y="${top - 6}" font-size="11" fill="#1971c2" text-anchor="middle">${escape(panel.marker.label)}</text>`,
      );
    }
    y += PANEL_GAP;
  }
  const height = y;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
