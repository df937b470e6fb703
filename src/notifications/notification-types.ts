/**
 * The notifications the platform's spec names (DESIGN.md), their titles and where they link.
 * One map: nothing else spells these strings.
 */
export const NOTIFICATION_TYPES = [
  'lora.training.started',
  'lora.training.completed',
  'lora.training.failed',
  'lora.retrain.available',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export interface NotificationContent {
  title: string;
  body: string;
  link: string;
}

export function notificationContent(
  type: NotificationType,
  ctx: { characterId: string; characterName: string; reason?: string; newLikedImages?: number },
): NotificationContent {
  const settings = `/characters/${ctx.characterId}/lora`;
  switch (type) {
    case 'lora.training.started':
      return {
        title: 'LoRA Training Started',
        body: `We are training a LoRA for ${ctx.characterName}. You can follow its progress in the character's settings.`,
        link: settings,
      };
    case 'lora.training.completed':
      return {
        title: 'LoRA Training Complete',
        body: `${ctx.characterName}'s LoRA is ready and is now used in every generation.`,
        link: `/studio?characterId=${ctx.characterId}`,
      };
    case 'lora.training.failed':
      return {
        title: 'LoRA Training Failed',
        body: `${ctx.reason ?? 'Training did not finish.'} Retry for free in settings.`,
        link: settings,
      };
    case 'lora.retrain.available':
      return {
        title: 'Improve Your Model',
        body: `You have ${ctx.newLikedImages ?? 0} new liked images. Retrain your LoRA for better results!`,
        link: settings,
      };
  }
}
