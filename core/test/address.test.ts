// Addresses as an operator writes them.
import { describe, expect, it } from 'vitest';
import { normalizeAddress } from '../src/attack/address.js';

describe('normalizeAddress', () => {
  it('turns IPv4-mapped IPv6 into plain IPv4', () => {
    expect(normalizeAddress('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(normalizeAddress('::FFFF:192.168.10.200')).toBe('192.168.10.200');
  });

  it('lowercases IPv6', () => {
    expect(normalizeAddress('2001:DB8::AB:1')).toBe('2001:db8::ab:1');
    expect(normalizeAddress('FE80::1')).toBe('fe80::1');
  });

  it('keeps IPv4 and other IPv6 as they are', () => {
    expect(normalizeAddress('10.0.0.1')).toBe('10.0.0.1');
    expect(normalizeAddress('::1')).toBe('::1');
    expect(normalizeAddress('::ffff:abcd')).toBe('::ffff:abcd');
  });

  it('gives an empty string for a missing address', () => {
    expect(normalizeAddress(undefined)).toBe('');
    expect(normalizeAddress('')).toBe('');
  });
});
