// Options both containers of a scoring pod read (the server and the sync sidecar), declared once
// for their configuration specs (lib/config.ts) under the names the operator writes
// (api/pod-env.ts).
import { z } from 'zod';
import { PodEnv } from '../api/pod-env.js';
import { option } from './config.js';

export const SCORING_POD_OPTIONS = {
  dataDir: option({
    env: PodEnv.DataDir,
    help: 'shared volume holding model/current and snapshot/current',
    default: '/var/lib/lightrank',
    schema: z.string().min(1),
  }),
  segment: option({
    env: PodEnv.Segment,
    help: 'segment name (metric label)',
    default: '',
    schema: z.string(),
  }),
  track: option({
    env: PodEnv.Track,
    help: 'stable or canary (metric label)',
    default: '',
    schema: z.string(),
  }),
};
