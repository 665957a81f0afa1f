import { describe, expect, it } from 'vitest';
import {
  CanonicalJsonError,
  canonicalJson,
  canonicalJsonBytes,
  compareCodePoints,
} from './canonical-json.js';

// Every example under "Canonical JSON" > "Examples" in the spec's appendices, input JSON text
// exactly as given there (parsed with JSON.parse, as a server would receive it).
const SPEC_EXAMPLES: ReadonlyArray<readonly [input: string, expected: string]> = [
  ['{}', '{}'],
  [
    `{
    "one": 1,
    "two": "Two"
}`,
    '{"one":1,"two":"Two"}',
  ],
  [
    `{
    "b": "2",
    "a": "1"
}`,
    '{"a":"1","b":"2"}',
  ],
  ['{"b":"2","a":"1"}', '{"a":"1","b":"2"}'],
  [
    `{
    "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
            "display_name": "John Doe",
            "three_pids": [
                {
                    "medium": "email",
                    "address": "john.doe@example.org"
                },
                {
                    "medium": "msisdn",
                    "address": "123456789"
                }
            ]
        }
    }
}`,
    '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}',
  ],
  [
    `{
    "a": "日本語"
}`,
    '{"a":"日本語"}',
  ],
  [
    `{
    "本": 2,
    "日": 1
}`,
    '{"日":1,"本":2}',
  ],
  [
    `{
    "a": "\\u65E5"
}`,
    '{"a":"日"}',
  ],
  [
    `{
    "a": null
}`,
    '{"a":null}',
  ],
  [
    `{
    "a": -0,
    "b": 1e10
}`,
    '{"a":0,"b":10000000000}',
  ],
];

describe('canonicalJson: spec examples', () => {
  it.each(SPEC_EXAMPLES)('canonicalises example %#', (input, expected) => {
    expect(canonicalJson(JSON.parse(input))).toBe(expected);
  });

  it('produces UTF-8 bytes, not \\u escapes, for non-ASCII text', () => {
    const bytes = canonicalJsonBytes({ a: '日本語' });
    // 日本語 is three 3-byte UTF-8 sequences.
    expect(bytes.length).toBe('{"a":""}'.length + 9);
    expect(bytes.subarray(6, 9)).toEqual(Buffer.from([0xe6, 0x97, 0xa5]));
    expect(bytes.toString('utf8')).toBe('{"a":"日本語"}');
  });
});

describe('canonicalJson: values', () => {
  it('writes scalars and nested arrays without whitespace', () => {
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson(true)).toBe('true');
    expect(canonicalJson(false)).toBe('false');
    expect(canonicalJson('x')).toBe('"x"');
    expect(canonicalJson([1, [2, [3, {}]], []])).toBe('[1,[2,[3,{}]],[]]');
  });

  it('accepts the extremes of the integer range', () => {
    expect(canonicalJson(2 ** 53 - 1)).toBe('9007199254740991');
    expect(canonicalJson(-(2 ** 53) + 1)).toBe('-9007199254740991');
    expect(canonicalJson({ n: -0 })).toBe('{"n":0}');
  });

  it('writes large integers without exponents', () => {
    expect(canonicalJson(1e15)).toBe('1000000000000000');
  });

  it('rejects floats', () => {
    expect(() => canonicalJson(1.5)).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ a: [0.1] })).toThrow(/\$\.a\[0\]: not an integer/);
  });

  it('rejects integers outside [-(2**53)+1, 2**53-1]', () => {
    expect(() => canonicalJson(2 ** 53)).toThrow(/integer out of range/);
    expect(() => canonicalJson(-(2 ** 53))).toThrow(/integer out of range/);
    expect(() => canonicalJson({ ts: 1e300 })).toThrow(CanonicalJsonError);
  });

  it('rejects NaN and infinities', () => {
    expect(() => canonicalJson(NaN)).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(Infinity)).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ a: -Infinity })).toThrow(CanonicalJsonError);
  });

  it('rejects undefined, functions, symbols and bigints as values', () => {
    expect(() => canonicalJson(undefined)).toThrow(/undefined is not JSON/);
    expect(() => canonicalJson([undefined])).toThrow(/\$\[0\]: undefined is not JSON/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/\$\.f: function is not JSON/);
    expect(() => canonicalJson([Symbol('s')])).toThrow(/symbol is not JSON/);
    expect(() => canonicalJson({ n: 1n })).toThrow(/bigint is not JSON/);
  });

  it('omits object members whose value is undefined, like an absent optional field', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
  });
});

describe('canonicalJson: strings', () => {
  it('uses only the escapes the grammar allows', () => {
    const controls = '\b\t\n\f\r\u0000\u0007\u000b\u000e\u001f';
    expect(canonicalJson(controls)).toBe('"\\b\\t\\n\\f\\r\\u0000\\u0007\\u000b\\u000e\\u001f"');
    expect(canonicalJson('quote " backslash \\')).toBe('"quote \\" backslash \\\\"');
  });

  it('does not escape "/", DEL, U+2028 or astral characters', () => {
    expect(canonicalJson('a/b\u007f\u2028😀')).toBe('"a/b\u007f\u2028😀"');
  });

  it('rejects lone surrogates, which have no UTF-8 encoding', () => {
    expect(() => canonicalJson('\ud800')).toThrow(/lone surrogate/);
    expect(() => canonicalJson({ a: 'x\udfffy' })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ ['\udc00']: 1 })).toThrow(/lone surrogate/);
  });
});

describe('canonicalJson: key order', () => {
  it('sorts by code point, not by UTF-16 code unit', () => {
    // U+FFFF sorts before U+1F600, but the emoji's first code unit (0xD83D) is below 0xFFFF.
    const object = { '😀': 1, '\uffff': 2 };
    expect(Object.keys(object).sort()).toEqual(['😀', '\uffff']); // JS default: wrong order
    expect(canonicalJson(object)).toBe('{"\uffff":2,"😀":1}');
  });

  it('puts private-use BMP characters before astral ones', () => {
    expect(canonicalJson({ '\u{10000}': 'a', '\ue000': 'b' })).toBe(
      '{"\ue000":"b","\u{10000}":"a"}',
    );
  });

  it('puts a prefix before longer keys and upper case before lower case', () => {
    expect(canonicalJson({ ab: 1, a: 2, B: 3, '': 4 })).toBe('{"":4,"B":3,"a":2,"ab":1}');
  });

  it('sorts nested objects inside arrays', () => {
    expect(canonicalJson([{ z: 1, y: { d: 1, c: 2 } }])).toBe('[{"y":{"c":2,"d":1},"z":1}]');
  });
});

describe('compareCodePoints', () => {
  it('orders by code point and by length on a common prefix', () => {
    expect(compareCodePoints('\uffff', '😀')).toBeLessThan(0);
    expect(compareCodePoints('😀', '\uffff')).toBeGreaterThan(0);
    expect(compareCodePoints('a', 'ab')).toBeLessThan(0);
    expect(compareCodePoints('ab', 'a')).toBeGreaterThan(0);
    expect(compareCodePoints('日本', '日本')).toBe(0);
    expect(compareCodePoints('', '')).toBe(0);
  });
});
