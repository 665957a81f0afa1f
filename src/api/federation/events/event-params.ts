import { z } from 'zod';
import { eventIdParam, integerQuery, roomIdParam } from '../../client/rooms/room-params.js';

/** Path and query parameters shared by the federation event endpoints. */
export const roomParams = z.object({ roomId: roomIdParam });
export const roomEventParams = z.object({ roomId: roomIdParam, eventId: eventIdParam });
export const atEventQuery = z.object({ event_id: eventIdParam });
export { eventIdParam, integerQuery };
