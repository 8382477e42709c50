// The environment variables the operator writes into the pods it runs (scoring server, sync
// sidecar, router), declared once: the operator's builders set them and each entry point's
// configuration spec reads them, so both sides spell them the same way (as pod-annotations.ts
// does for the annotations the sidecars write).
export const PodEnv = {
  // Both containers of a scoring pod.
  /** shared volume holding model/current and snapshot/current */
  DataDir: 'LIGHTRANK_DATA_DIR',
  /** segment name (metric label) */
  Segment: 'LIGHTRANK_SEGMENT',
  /** stable or canary (metric label) */
  Track: 'LIGHTRANK_TRACK',
  /** listen port: the server's HTTP port, the sidecar's health port, the router's port */
  Port: 'LIGHTRANK_PORT',
  /** listen address; the local node agent sets it to the pod's own address */
  Host: 'LIGHTRANK_HOST',

  // The scoring server.
  GrpcPort: 'LIGHTRANK_GRPC_PORT',
  ModelName: 'LIGHTRANK_MODEL_NAME',
  ExecutionProvider: 'LIGHTRANK_EXECUTION_PROVIDER',
  MaxBatchSize: 'LIGHTRANK_MAX_BATCH_SIZE',
  MaxQueueDelayUs: 'LIGHTRANK_MAX_QUEUE_DELAY_US',

  // The sync sidecar: what it fetches (operator/rollout/serving.ts reads these back from a
  // Deployment to tell what a track serves).
  ModelUri: 'LIGHTRANK_MODEL_URI',
  ModelSha256: 'LIGHTRANK_MODEL_SHA256',
  ModelVersion: 'LIGHTRANK_MODEL_VERSION',
  TowerFingerprint: 'LIGHTRANK_TOWER_FINGERPRINT',
  SnapshotUri: 'LIGHTRANK_SNAPSHOT_URI',
  SnapshotPollSeconds: 'LIGHTRANK_SNAPSHOT_POLL_SECONDS',
  /** the pod's own identity (downward API): the sidecar's Events and annotations are about it */
  PodName: 'POD_NAME',
  PodNamespace: 'POD_NAMESPACE',
  PodUid: 'POD_UID',

  // The build's pods (embed).
  /** where a shard writes its result (items, seconds) for the operator: its terminationMessagePath */
  TerminationMessagePath: 'LIGHTRANK_TERMINATION_MESSAGE_PATH',

  // The router.
  RouterTable: 'LIGHTRANK_ROUTER_TABLE',
  RouterResolver: 'LIGHTRANK_ROUTER_RESOLVER',
} as const;

export type PodEnvName = (typeof PodEnv)[keyof typeof PodEnv];
