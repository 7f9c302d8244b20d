import { describe, expect, it } from 'vitest';
import { ApiError, errorMessage } from './api';

describe('errorMessage', () => {
  it("gives the server's words without the field it is about", () => {
    const e = new ApiError(400, 'invalid', 'unknown time zone "Mars/Olympus"', 'timeZone');
    expect(errorMessage(e)).toBe('unknown time zone "Mars/Olympus"');
    expect(errorMessage(e)).not.toMatch(/field|timeZone/);
  });
  it("says plainly that tokenjar can't be reached, without the browser's fetch text", () => {
    const e = new ApiError(0, 'network', 'Cannot reach the server (Failed to fetch)');
    expect(errorMessage(e)).toBe("Can't reach tokenjar. Check that it is running, then try again.");
  });
  it('reads any thrown value', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage('plain')).toBe('plain');
  });
});
