import type { Command } from 'commander';
import { registerBench } from './bench.ts';

/** Each command adds itself to the program; one file per command in this folder. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerBench];
