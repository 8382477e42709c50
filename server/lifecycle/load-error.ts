// Why a model or snapshot version was refused: `kind` says which, `reason` is a stable code
// (the snapshot module's SnapshotError causes, plus the model's own) used as the metric label.
//
// API: class LoadError extends Error { kind: 'model' | 'snapshot'; reason: string }
export class LoadError extends Error {
  constructor(
    readonly kind: 'model' | 'snapshot',
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'LoadError';
  }
}
