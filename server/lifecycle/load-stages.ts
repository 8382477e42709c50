// Times the stages of loading a served version (model file, snapshot checks, id index, scoring
// graph, worker sessions, ...), so a slow reload says where its time went: the reloader logs the
// stages once per reload and exports them as `lightrank_server_reload_stage_seconds{stage}`.
//
// API:
//   const clock = new StageClock()
//   await clock.time('stage', () => work())  → work's result; records its seconds under 'stage'
//   clock.record('stage', seconds)           records a stage timed elsewhere (e.g. in a worker)
//   clock.seconds                            { stage: seconds }, in the order the stages ran
export class StageClock {
  readonly seconds: Record<string, number> = {};

  record(stage: string, seconds: number): void {
    this.seconds[stage] = (this.seconds[stage] ?? 0) + seconds;
  }

  async time<T>(stage: string, work: () => T | Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      this.record(stage, (performance.now() - t0) / 1000);
    }
  }
}
