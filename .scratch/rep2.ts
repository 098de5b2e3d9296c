import { gatherReportData } from '../functions/report/gather-report-data.ts';
import { renderReport } from '../functions/report/render-report.ts';
import { FsStorage } from '../functions/shared/storage/fs-storage.ts';

const output = new FsStorage('/tmp/out-large');
let t = performance.now();
const data = await gatherReportData({ runId: '20261205T184447Z-4e0e01', output, pcaRequested: false, steps: {} });
console.log('gather ms', Math.round(performance.now() - t));
t = performance.now();
const html = await renderReport(data);
console.log('render ms', Math.round(performance.now() - t), html.length);
