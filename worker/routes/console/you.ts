import { consoleSection } from './env.ts';

export const youConsole = consoleSection();
