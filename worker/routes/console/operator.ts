import { consoleSection } from './env.ts';

export const operatorConsole = consoleSection();
