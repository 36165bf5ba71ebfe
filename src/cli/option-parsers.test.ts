import { expect, it } from 'vitest';
import { isConfigError } from '../core/errors.ts';
import { milliseconds, numberBetween, portNumber, wholeNumber } from './option-parsers.ts';

/** The ConfigError message a parser throws for `value`, or the value it returns. */
const parse = (parser: (v: string) => number, value: string): number | string => {
  try {
    return parser(value);
  } catch (error) {
    if (!isConfigError(error)) throw error;
    return error.message;
  }
};

it('numberBetween takes fractions within its range and refuses blanks, words and values outside it', () => {
  expect(parse(numberBetween('--rate', 0), '12.5')).toBe(12.5);
  expect(parse(numberBetween('--pct', 0, 100), '100')).toBe(100);
  // Number('') is 0: a blank must not pass as zero.
  expect(parse(numberBetween('--rate', 0), ' ')).toBe('--rate must be a number from 0, got " "');
  expect(parse(numberBetween('--pct', 0, 100), '101')).toBe('--pct must be a number from 0 to 100, got "101"');
  expect(parse(numberBetween('--pct', 0, 100), '5%')).toBe('--pct must be a number from 0 to 100, got "5%"');
});

it('wholeNumber refuses fractions, and values above its maximum when it has one', () => {
  expect(parse(wholeNumber('--customers', 1), '200')).toBe(200);
  expect(parse(wholeNumber('--customers', 1), '2.5')).toBe('--customers must be a whole number ≥ 1, got "2.5"');
  expect(parse(wholeNumber('--worker-crashes', 0, 20), '0')).toBe(0);
  expect(parse(wholeNumber('--worker-crashes', 0, 20), '21')).toBe('--worker-crashes must be a whole number from 0 to 20, got "21"');
});

it('milliseconds keeps to its minimum and to what a timer can wait', () => {
  expect(parse(milliseconds('--interval', 100), '100')).toBe(100);
  expect(parse(milliseconds('--interval', 100), '99')).toBe('--interval must be at least 100 ms, got "99"');
  expect(parse(milliseconds('--interval'), '0')).toBe('--interval must be a positive number, got "0"');
  expect(parse(milliseconds('--interval'), '3000000000')).toBe('--interval must be at most 2147483647 ms, got "3000000000"');
});

it('portNumber takes 0 to 65535', () => {
  expect(parse(portNumber('--dashboard-port'), '0')).toBe(0);
  expect(parse(portNumber('--dashboard-port'), '65536')).toBe('--dashboard-port must be a port number (0-65535), got "65536"');
});
