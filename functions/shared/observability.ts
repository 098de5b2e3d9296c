/**
 * One logger for every handler, worker and the CLI: structured JSON lines, one service name.
 * Level from POWERTOOLS_LOG_LEVEL (the CLI lowers it to WARN unless --verbose).
 */
import { Logger } from '@aws-lambda-powertools/logger';

export const serviceName = 'featurize';

export const logger = new Logger({ serviceName });
