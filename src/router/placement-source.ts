import type { Placement } from './placement.js';

/**
 * Where the router learns the placement from. `marina router` follows the controller's HTTP API
 * (ControllerPlacementSource); a process that runs the controller itself (`marina up`) or a test
 * hands placements over directly (StaticPlacementSource).
 */
export interface PlacementSource {
  /** Starts delivering placements: each new one, the first as soon as it is known. */
  start(onPlacement: (placement: Placement) => void): void;
  /** Stops delivering (ends any pending request to the controller). */
  stop(): Promise<void>;
}

/** A placement source fed by its owner: `publish` replaces the placement at once. */
export class StaticPlacementSource implements PlacementSource {
  private listener: ((placement: Placement) => void) | undefined;

  constructor(private latest?: Placement) {}

  start(onPlacement: (placement: Placement) => void): void {
    this.listener = onPlacement;
    if (this.latest) onPlacement(this.latest);
  }

  publish(placement: Placement): void {
    this.latest = placement;
    this.listener?.(placement);
  }

  async stop(): Promise<void> {
    this.listener = undefined;
  }
}
