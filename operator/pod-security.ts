// The security context of every pod the operator creates (scoring pods, routers): what Pod
// Security `restricted` demands, so their ReplicaSets can create pods in a namespace that
// enforces it (common on platform clusters): non-root as the images' numeric user, no privilege
// escalation, every capability dropped, the runtime's default seccomp profile, and a read-only
// root filesystem (the pods write only to their emptyDir volumes: the shared data volume and /tmp).
//
// IMAGE_USER is the `USER 65532:65532` of Dockerfile.server and Dockerfile.operator; a numeric
// user lets the kubelet check runAsNonRoot without reading the image. A user image that runs as
// another user can override nothing here: lightrank's containers are lightrank's images.

/** The numeric user and group the lightrank images run as (their Dockerfiles' USER). */
export const IMAGE_USER = 65532;

export const POD_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  runAsUser: IMAGE_USER,
  runAsGroup: IMAGE_USER,
  // emptyDir volumes group-owned by the image's group, so both containers of a pod can write
  fsGroup: IMAGE_USER,
  seccompProfile: { type: 'RuntimeDefault' },
} as const;

export const CONTAINER_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  runAsUser: IMAGE_USER,
  runAsGroup: IMAGE_USER,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
} as const;

/** A writable /tmp on a read-only root: the volume and the mount every container gets. */
export const TMP_VOLUME = { name: 'tmp', emptyDir: {} } as const;
export const TMP_MOUNT = { name: 'tmp', mountPath: '/tmp' } as const;
