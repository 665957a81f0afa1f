/**
 * The OpenGraph data of an HTML page, read with a small scan of its `<head>` (no DOM): the
 * `og:*` meta tags, with `<title>` and `<meta name="description">` as fallbacks for `og:title` and
 * `og:description` (as Synapse does), and `og:image` made absolute against the page's URL.
 */

/** Meta tags kept at most (Synapse keeps 50), and the longest value kept. */
const MAX_OG_TAGS = 50;
const MAX_VALUE_LENGTH = 1000;
/** `og:description` is cut to this many characters (Synapse's summary length). */
const MAX_DESCRIPTION_LENGTH = 500;

export type OpenGraph = Record<string, string>;

/** Decodes the page's bytes: the `Content-Type` charset, else a `<meta charset>`, else UTF-8. */
export function decodeHtml(body: Buffer, charset: string | undefined): string {
  const sniffed = /<meta[^>]+charset\s*=\s*["']?([\w-]+)/i.exec(
    body.subarray(0, 2048).toString('latin1'),
  );
  for (const label of [charset, sniffed?.[1], 'utf-8']) {
    if (label === undefined) continue;
    try {
      return new TextDecoder(label).decode(body);
    } catch {
      // An unknown charset label: try the next.
    }
  }
  return body.toString('utf8');
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
};

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,8});/gi, (whole, entity: string) => {
    if (entity.startsWith('#')) {
      const code =
        entity[1] === 'x' || entity[1] === 'X'
          ? parseInt(entity.slice(2), 16)
          : parseInt(entity.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[entity.toLowerCase()] ?? whole;
  });
}

function clean(text: string, max = MAX_VALUE_LENGTH): string {
  return decodeEntities(text).replace(/\s+/g, ' ').trim().slice(0, max);
}

function attributesOf(tag: string): Map<string, string> {
  const attributes = new Map<string, string>();
  const pattern = /([^\s=/>"']+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g;
  for (const match of tag.matchAll(pattern)) {
    const name = match[1]!.toLowerCase();
    if (!attributes.has(name)) attributes.set(name, match[2] ?? match[3] ?? match[4] ?? '');
  }
  return attributes;
}

/** The head of the document (all of it if it has no `</head>`), without comments and scripts. */
function headOf(html: string): string {
  const end = html.search(/<\/head\s*>/i);
  return (end === -1 ? html : html.slice(0, end))
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, '');
}

/** The preview of an HTML page fetched from `pageUrl`. */
export function openGraphOf(html: string, pageUrl: URL): OpenGraph {
  const head = headOf(html);
  const og: OpenGraph = {};
  let description: string | undefined;
  let count = 0;
  for (const match of head.matchAll(/<meta\b([^>]*)>/gi)) {
    const attributes = attributesOf(match[1]!);
    const key = (attributes.get('property') ?? attributes.get('name') ?? '').toLowerCase();
    const content = attributes.get('content');
    if (content === undefined) continue;
    if (key === 'description') description ??= clean(content);
    if (!key.startsWith('og:') || key in og || count >= MAX_OG_TAGS) continue;
    og[key] = clean(content);
    count++;
  }
  if (og['og:title'] === undefined || og['og:title'] === '') {
    const title = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(head)?.[1];
    if (title !== undefined && clean(title) !== '') og['og:title'] = clean(title);
  }
  if ((og['og:description'] === undefined || og['og:description'] === '') && description) {
    og['og:description'] = description;
  }
  if (og['og:description'] !== undefined) {
    og['og:description'] = og['og:description'].slice(0, MAX_DESCRIPTION_LENGTH);
  }
  if (og['og:image'] !== undefined) {
    const image = absoluteHttpUrl(og['og:image'], pageUrl);
    if (image === undefined) delete og['og:image'];
    else og['og:image'] = image;
  }
  return og;
}

function absoluteHttpUrl(value: string, base: URL): string | undefined {
  try {
    const url = new URL(value, base);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}
