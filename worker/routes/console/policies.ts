import { consoleSection } from './env.ts';

export const policiesConsole = consoleSection();
