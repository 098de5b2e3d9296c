/**
 * One logger and one metrics emitter for every handler, worker and the CLI: structured JSON lines and
 * CloudWatch embedded-metric-format records under one service name.
 * Log level from POWERTOOLS_LOG_LEVEL (the CLI: DEBUG with --verbose, otherwise the environment's or SILENT);
 * the CLI also sets POWERTOOLS_METRICS_DISABLED, since EMF records only mean something inside Lambda.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

export const serviceName = 'featurize';

export const logger = new Logger({ serviceName });

/**
 * Its own diagnostics go through the logger at ERROR: an invocation that fails before recording a metric (a
 * batch retried by the state machine) would otherwise print "No application metrics to publish" each time.
 */
export const metrics = new Metrics({ serviceName, namespace: 'Featurize', logger: logger.createChild({ logLevel: 'ERROR' }) });
