import { consoleSection } from './env.ts';

export const auditConsole = consoleSection();
