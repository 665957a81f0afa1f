import { describe, expect, it } from 'vitest';
import { thumbnailDimensions, thumbnailSpecFor } from './thumbnail-size.js';

describe('thumbnailSpecFor', () => {
  it('serves scale requests from the smallest recommended box at least as large', () => {
    expect(thumbnailSpecFor(32, 32, 'scale')).toEqual({ width: 320, height: 240, method: 'scale' });
    expect(thumbnailSpecFor(320, 240, 'scale')).toEqual({
      width: 320,
      height: 240,
      method: 'scale',
    });
    expect(thumbnailSpecFor(321, 100, 'scale')).toEqual({
      width: 640,
      height: 480,
      method: 'scale',
    });
    expect(thumbnailSpecFor(700, 500, 'scale')).toEqual({
      width: 800,
      height: 600,
      method: 'scale',
    });
    // Beyond the largest: the largest.
    expect(thumbnailSpecFor(4000, 3000, 'scale')).toEqual({
      width: 800,
      height: 600,
      method: 'scale',
    });
  });

  it('cuts crops at the recommended squares, else at the requested size within 800x600', () => {
    expect(thumbnailSpecFor(20, 20, 'crop')).toEqual({ width: 32, height: 32, method: 'crop' });
    expect(thumbnailSpecFor(64, 64, 'crop')).toEqual({ width: 96, height: 96, method: 'crop' });
    expect(thumbnailSpecFor(200, 200, 'crop')).toEqual({ width: 200, height: 200, method: 'crop' });
    expect(thumbnailSpecFor(50, 30, 'crop')).toEqual({ width: 50, height: 30, method: 'crop' });
    // Too large: shrunk, keeping the aspect ratio.
    expect(thumbnailSpecFor(1600, 600, 'crop')).toEqual({
      width: 800,
      height: 300,
      method: 'crop',
    });
    expect(thumbnailSpecFor(100_000, 1, 'crop')).toEqual({ width: 800, height: 1, method: 'crop' });
  });
});

describe('thumbnailDimensions', () => {
  it('scales inside the box, never enlarging', () => {
    const box = { width: 320, height: 240, method: 'scale' } as const;
    expect(thumbnailDimensions(1000, 500, box)).toEqual({ width: 320, height: 160 });
    expect(thumbnailDimensions(500, 1000, box)).toEqual({ width: 120, height: 240 });
    expect(thumbnailDimensions(100, 50, box)).toEqual({ width: 100, height: 50 });
  });

  it('crops to the exact size, or to its aspect ratio at the source’s size when smaller', () => {
    const square = { width: 96, height: 96, method: 'crop' } as const;
    expect(thumbnailDimensions(1000, 500, square)).toEqual({ width: 96, height: 96 });
    expect(thumbnailDimensions(60, 200, square)).toEqual({ width: 60, height: 60 });
    const wide = { width: 200, height: 100, method: 'crop' } as const;
    expect(thumbnailDimensions(100, 100, wide)).toEqual({ width: 100, height: 50 });
  });
});
