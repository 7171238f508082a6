import { consoleSection } from './env.ts';

export const orgsConsole = consoleSection();
