import { consoleSection } from './env.ts';

export const keysConsole = consoleSection();
