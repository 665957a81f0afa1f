import { z } from 'zod';

// The shapes of definitions/sync_filter.yaml, event_filter.yaml and room_event_filter.yaml.
// Objects stay loose: clients add experimental keys, which are kept and ignored.

const userIds = z.array(z.string().startsWith('@', 'must be user IDs'));
const roomIds = z.array(z.string().startsWith('!', 'must be room IDs'));

export const eventFilterSchema = z.looseObject({
  // The spec asks for an integer greater than 0; 0 is accepted as "nothing", as Synapse does.
  limit: z.number().int().nonnegative().optional(),
  not_senders: userIds.optional(),
  not_types: z.array(z.string()).optional(),
  senders: userIds.optional(),
  types: z.array(z.string()).optional(),
});

export const roomEventFilterSchema = eventFilterSchema.extend({
  unread_thread_notifications: z.boolean().optional(),
  lazy_load_members: z.boolean().optional(),
  include_redundant_members: z.boolean().optional(),
  not_rooms: roomIds.optional(),
  rooms: roomIds.optional(),
  contains_url: z.boolean().optional(),
});

export const filterSchema = z.looseObject({
  event_fields: z.array(z.string()).optional(),
  event_format: z.enum(['client', 'federation']).optional(),
  presence: eventFilterSchema.optional(),
  account_data: eventFilterSchema.optional(),
  room: z
    .looseObject({
      not_rooms: roomIds.optional(),
      rooms: roomIds.optional(),
      ephemeral: roomEventFilterSchema.optional(),
      include_leave: z.boolean().optional(),
      state: roomEventFilterSchema.optional(),
      timeline: roomEventFilterSchema.optional(),
      account_data: roomEventFilterSchema.optional(),
    })
    .optional(),
});

export type Filter = z.infer<typeof filterSchema>;
