/**
 * Glob matching for push rules (appendices "Glob-style matching": `*` matches zero or more
 * characters, `?` exactly one), case-insensitive, either against a whole value or against any
 * substring that starts and ends at a word boundary (what `content.body` patterns and display
 * names match; a boundary is the start or end of the value or a character not in
 * `[A-Za-z0-9_]`).
 *
 * Patterns come from users, so matching must not backtrack: it simulates the pattern as an
 * automaton over the text, O(text × pattern) at worst, whatever the pattern holds.
 */

/** Token of a compiled pattern: a literal character (one code point), or a wildcard. */
const ANY = 0;
const STAR = 1;
type Token = string | typeof ANY | typeof STAR;

export interface Glob {
  /** Whether the pattern matches all of `text`. */
  matchesWhole(text: string): boolean;
  /** Whether the pattern matches a substring of `text` between word boundaries. */
  matchesWords(text: string): boolean;
}

/** A glob pattern; with `literal`, `*` and `?` are plain characters (display names). */
export function compileGlob(pattern: string, options: { literal?: boolean } = {}): Glob {
  const tokens: Token[] = [];
  for (const char of pattern.toLowerCase()) {
    if (options.literal === true) tokens.push(char);
    else if (char === '*') {
      // `**` means `*`: collapsing keeps the automaton small.
      if (tokens.at(-1) !== STAR) tokens.push(STAR);
    } else if (char === '?') tokens.push(ANY);
    else tokens.push(char);
  }
  const literal = tokens.every((token) => typeof token === 'string') ? tokens.join('') : undefined;
  return {
    matchesWhole: (text) =>
      literal !== undefined ? text.toLowerCase() === literal : simulate(tokens, text, false),
    matchesWords: (text) =>
      literal !== undefined ? literalInWords(literal, text) : simulate(tokens, text, true),
  };
}

/** `[A-Za-z0-9_]`; anything else (and the start or end of the text) is a word boundary. */
function isWordChar(char: string | undefined): boolean {
  if (char === undefined || char.length !== 1) return false;
  const code = char.charCodeAt(0);
  return (
    (code >= 48 && code <= 57) ||
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122) ||
    code === 95
  );
}

/** A literal between word boundaries: each occurrence checked, no automaton needed. */
function literalInWords(literal: string, text: string): boolean {
  const lower = text.toLowerCase();
  let from = 0;
  for (;;) {
    const at = lower.indexOf(literal, from);
    if (at < 0) return false;
    const end = at + literal.length;
    if (!isWordChar(lower[at - 1]) && !isWordChar(lower[end])) return true;
    from = at + 1;
  }
}

/**
 * Runs the pattern's automaton over `text` (one state per token, plus the accepting state).
 * In word mode a match may start after any boundary and must end before one.
 */
function simulate(tokens: readonly Token[], text: string, words: boolean): boolean {
  const chars = Array.from(text.toLowerCase());
  const accept = tokens.length;
  let current = new Uint8Array(accept + 1);
  let next = new Uint8Array(accept + 1);
  // A star may match nothing: a state before a star also stands after it.
  const close = (states: Uint8Array) => {
    for (let j = 0; j < accept; j++) if (states[j] === 1 && tokens[j] === STAR) states[j + 1] = 1;
  };
  if (!words) {
    current[0] = 1;
    close(current);
  }
  for (let i = 0; ; i++) {
    const atBoundaryBefore = i === 0 || !isWordChar(chars[i - 1]);
    if (words && atBoundaryBefore) {
      current[0] = 1;
      close(current);
    }
    if (i === chars.length) return current[accept] === 1;
    if (words && current[accept] === 1 && !isWordChar(chars[i])) return true;
    const char = chars[i];
    next.fill(0);
    let alive = false;
    for (let j = 0; j < accept; j++) {
      if (current[j] !== 1) continue;
      const token = tokens[j];
      if (token === STAR) next[j] = 1;
      else if (token === ANY || token === char) next[j + 1] = 1;
      else continue;
      alive = true;
    }
    close(next);
    [current, next] = [next, current];
    // Anchored at the start, a dead automaton cannot come back.
    if (!words && !alive) return false;
  }
}
