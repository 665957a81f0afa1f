import type { JsonObject } from '../../core/canonical-json.js';
import { PowerLevels } from '../../protocol/auth/power-levels.js';
import { stateKeyOf } from '../../protocol/room-event.js';
import type { RoomEvent, StateMap } from '../../protocol/room-event.js';
import type { RoomVersion } from '../../protocol/room-versions.js';
import type { RoomGraph } from '../room-graph/room-graph.js';

/** A room state (the map of event IDs) with its events fetched on demand. */
export class StateView {
  constructor(
    readonly roomId: string,
    readonly version: RoomVersion,
    readonly state: StateMap,
    private readonly graph: RoomGraph,
  ) {}

  eventId(type: string, stateKey = ''): string | undefined {
    return this.state.get(stateKeyOf(type, stateKey));
  }

  async event(type: string, stateKey = ''): Promise<RoomEvent | undefined> {
    const id = this.eventId(type, stateKey);
    return id === undefined ? undefined : this.graph.getEvent(id);
  }

  async content(type: string, stateKey = ''): Promise<JsonObject | undefined> {
    return (await this.event(type, stateKey))?.content;
  }

  /** A string property of a state event's content, if present. */
  async stringField(type: string, field: string, stateKey = ''): Promise<string | undefined> {
    const content = await this.content(type, stateKey);
    const value =
      content !== undefined && Object.hasOwn(content, field) ? content[field] : undefined;
    return typeof value === 'string' ? value : undefined;
  }

  async membership(userId: string): Promise<string | undefined> {
    return this.stringField('m.room.member', 'membership', userId);
  }

  async powerLevels(): Promise<PowerLevels> {
    return new PowerLevels(
      await this.event('m.room.power_levels'),
      await this.event('m.room.create'),
      this.version,
    );
  }

  /** Every state event of the room, in no particular order. */
  async allEvents(): Promise<RoomEvent[]> {
    const events = await this.graph.getEvents([...this.state.values()]);
    return [...events.values()];
  }

  /** The state events of one type, by state key. */
  async eventsOfType(type: string): Promise<RoomEvent[]> {
    const prefix = JSON.stringify([type]).slice(0, -1) + ',';
    const ids = [...this.state].filter(([key]) => key.startsWith(prefix)).map(([, id]) => id);
    const events = await this.graph.getEvents(ids);
    return [...events.values()];
  }
}
