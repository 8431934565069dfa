// A contact sheet: drafts side by side in one PNG grid, for a reviewer's quick look or a CLI dry
// run. Pure sharp (no Temporal imports): usable from any process.
import sharp from 'sharp';
import { limits, untrustedInput } from './format.ts';

export const CONTACT_SHEET_MAX_IMAGES = 64;

export interface ContactSheetOptions {
  /** Cells a row (default 8, or fewer when there are fewer images). */
  columns?: number;
  /** A cell's side in pixels (default 128): each image is fitted inside it, centred. */
  cell?: number;
  /** Pixels between cells and around the grid (default 4). */
  gap?: number;
  /** The sheet's background (default a light grey). */
  background?: string;
}

/**
 * One PNG with the images in a grid, left to right, top to bottom, in the order given (at most 64;
 * each a PNG, JPEG or WebP). Images are fitted into square cells keeping their proportions.
 */
export async function renderContactSheet(images: Buffer[], options: ContactSheetOptions = {}): Promise<Buffer> {
  const { cell = 128, gap = 4, background = '#e9ecef' } = options;
  if (images.length === 0) throw new Error('a contact sheet needs at least one image');
  if (images.length > CONTACT_SHEET_MAX_IMAGES) throw new Error(`a contact sheet holds at most ${CONTACT_SHEET_MAX_IMAGES} images, not ${images.length}`);
  if (!Number.isInteger(cell) || cell < 8 || cell > 1024) throw new Error(`cell must be a whole number of pixels from 8 to 1024, not ${cell}`);
  if (!Number.isInteger(gap) || gap < 0 || gap > 64) throw new Error(`gap must be a whole number of pixels from 0 to 64, not ${gap}`);
  const wanted = options.columns ?? 8;
  if (!Number.isInteger(wanted) || wanted < 1 || wanted > CONTACT_SHEET_MAX_IMAGES)
    throw new Error(`columns must be a whole number from 1 to 64, not ${wanted}`);
  const columns = Math.min(wanted, images.length);
  const rows = Math.ceil(images.length / columns);
  const width = columns * cell + (columns + 1) * gap;
  const height = rows * cell + (rows + 1) * gap;
  if (width > limits.maxDimension || height > limits.maxDimension) {
    throw new Error(`a ${columns}x${rows} sheet of ${cell} px cells is ${width}x${height} pixels, over ${limits.maxDimension} a side`);
  }
  const cells = await Promise.all(
    images.map(async (image, i) => {
      const input = await sharp(image, untrustedInput)
        .resize(cell, cell, { fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 0 } })
        .ensureAlpha()
        .png()
        .toBuffer()
        .catch((error: Error) => {
          throw new Error(`image ${i + 1} of the contact sheet is not an image sharp can read (${error.message})`);
        });
      return { input, left: gap + (i % columns) * (cell + gap), top: gap + Math.floor(i / columns) * (cell + gap) };
    }),
  );
  return sharp({ create: { width, height, channels: 4, background } })
    .composite(cells)
    .png()
    .toBuffer();
}
