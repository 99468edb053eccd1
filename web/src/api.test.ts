import { describe, expect, it } from 'vitest';
import { ApiError, qs, readCookie, toApiError } from './api';

describe('api helpers', () => {
  it('reads cookies', () => {
    expect(readCookie('fm_csrf', 'a=1; fm_csrf=abc%3D; fm_session=x')).toBe('abc=');
    expect(readCookie('fm_csrf', 'other=1')).toBe('');
    expect(readCookie('fm_csrf', '')).toBe('');
  });
  it('builds query strings without empty values', () => {
    expect(qs({ a: 1, b: '', c: undefined, d: null, e: 'x y', f: false })).toBe('?a=1&e=x+y&f=false');
    expect(qs({})).toBe('');
  });
  it('turns error bodies into ApiError with field and lines', async () => {
    const res = new Response(JSON.stringify({ error: { code: 'invalid_csv', message: 'bad lines', field: 'body', lines: [{ line: 3, message: 'not a number' }] } }), { status: 422 });
    const e = await toApiError(res);
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(422);
    expect(e.code).toBe('invalid_csv');
    expect(e.message).toBe('bad lines');
    expect(e.field).toBe('body');
    expect(e.lines).toEqual([{ line: 3, message: 'not a number' }]);
  });
  it('copes with non-JSON errors', async () => {
    const e = await toApiError(new Response('upstream down', { status: 502, statusText: 'Bad Gateway' }));
    expect(e.status).toBe(502);
    expect(e.message).toBe('upstream down');
  });
});
