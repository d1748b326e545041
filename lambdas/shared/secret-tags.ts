/**
 * The tags a rotation writes on its secret just before it moves AWSCURRENT: to which version, and
 * when. They time the grace of the signing secret the move replaces, and they are the only tags
 * the rotation function may write. Plain data, so the functions and the CDK stack share it cheaply.
 */
export const promotionTags = {
  versionId: 'autopay:promoted-version',
  at: 'autopay:promoted-at',
} as const;
