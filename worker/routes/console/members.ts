import { consoleSection } from './env.ts';

export const membersConsole = consoleSection();
