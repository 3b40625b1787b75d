// tests/tokenizer/js/random_text.mjs: seeded random Unicode strings for the differential tests: mixed
// scripts, digits, whitespace runs, emoji (ZWJ sequences, skin tones, flags), combining marks, contractions.
// Left out on purpose: U+0085, U+FEFF and U+180E, where JavaScript's `\s` (transformers.js) and the
// tokenizers' own engines disagree, and characters newer than Unicode 14 (PCRE2 10.42's tables).

export function rng(seed) {
  let a = seed >>> 0;
  return () => {  // mulberry32
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ranges = {
  latin: [[0x41, 0x5a], [0x61, 0x7a], [0x61, 0x7a], [0xc0, 0xff], [0x100, 0x17f]],
  greek: [[0x391, 0x3a9], [0x3b1, 0x3c9]],
  cyrillic: [[0x410, 0x44f]],
  arabic: [[0x621, 0x64a], [0x660, 0x669]],
  hebrew: [[0x5d0, 0x5ea]],
  devanagari: [[0x905, 0x939], [0x93e, 0x94d], [0x966, 0x96f]],
  thai: [[0xe01, 0xe30], [0xe31, 0xe3a]],
  cjk: [[0x4e00, 0x9fa5]],
  kana: [[0x3041, 0x3096], [0x30a1, 0x30fa]],
  hangul: [[0xac00, 0xd7a3]],
  fullwidth: [[0xff01, 0xff5e]],
  symbols: [[0x2190, 0x21ff], [0x2200, 0x22ff], [0x2500, 0x257f], [0x20a0, 0x20bf]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e], [0x2010, 0x2027], [0x3001, 0x3003]],
  digits: [[0x30, 0x39]],
  otherDigits: [[0x660, 0x669], [0x966, 0x96f], [0xff10, 0xff19], [0x2160, 0x2169]],
  combining: [[0x300, 0x36f], [0x1ab0, 0x1abd], [0x20d0, 0x20dc]],
  emoji: [[0x1f600, 0x1f64f], [0x1f300, 0x1f5ff], [0x1f680, 0x1f6c5], [0x1f90c, 0x1f9ff]],
};
const whitespace = [" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2009",
                    "\u2028", "\u000b", "\u000c", " \n ", "\t\t", "    \n"];
const contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ll", "n't", "'"];
const words = ["Hello", "world", "the", "The", "don't", "I'm", "we'll", "naïve", "café", "Zürich", "straße",
               "ﬁnance", "HTTP", "iPhone", "camelCase", "snake_case", "x", "a", "/usr/bin", "http://example.com",
               "<|endoftext|>".slice(1, 5), "e.g.", "3.14159", "1,000,000", "2026-12-06", "$100", "#tag", "@user"];

export function randomString(next) {
  const pick = (xs) => xs[Math.floor(next() * xs.length)];
  const fromRange = (rs) => {
    const [lo, hi] = pick(rs);
    return String.fromCodePoint(lo + Math.floor(next() * (hi - lo + 1)));
  };
  const run = (rs, n) => Array.from({ length: n }, () => fromRange(rs)).join("");
  const parts = [];
  const n = 1 + Math.floor(next() * 24);
  for (let i = 0; i < n; i++) {
    const r = next();
    if (r < 0.16) parts.push(pick(words));
    else if (r < 0.26) parts.push(pick(whitespace));
    else if (r < 0.33) parts.push(pick(contractions));
    else if (r < 0.41) parts.push(run(ranges.digits, 1 + Math.floor(next() * 9)));
    else if (r < 0.44) parts.push(run(ranges.otherDigits, 1 + Math.floor(next() * 4)));
    else if (r < 0.52) parts.push(run(ranges.punct, 1 + Math.floor(next() * 3)));
    else if (r < 0.58) {  // a letter or two with combining marks
      parts.push(run(ranges.latin, 1) + run(ranges.combining, 1 + Math.floor(next() * 2)));
    } else if (r < 0.64) {  // emoji, sometimes with a skin tone, a ZWJ sequence or a flag
      const e = fromRange(ranges.emoji);
      const k = next();
      if (k < 0.2) parts.push(e + String.fromCodePoint(0x1f3fb + Math.floor(next() * 5)));
      else if (k < 0.35) parts.push(e + "\u200d" + fromRange(ranges.emoji));
      else if (k < 0.45) parts.push(String.fromCodePoint(0x1f1e6 + Math.floor(next() * 26), 0x1f1e6 + Math.floor(next() * 26)));
      else if (k < 0.5) parts.push("\u2764\ufe0f");
      else parts.push(e);
    } else {
      const script = pick(["latin", "latin", "greek", "cyrillic", "arabic", "hebrew", "devanagari", "thai", "cjk",
                           "kana", "hangul", "fullwidth", "symbols"]);
      parts.push(run(ranges[script], 1 + Math.floor(next() * 8)));
    }
  }
  return parts.join("");
}
