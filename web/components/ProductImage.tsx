import Image from "next/image";

/**
 * A product's picture (`image_url`: an https:// URL or a path on this site), or a neutral
 * placeholder when it has none. Square, lazily loaded; served as is (`unoptimized`: the URLs may
 * point anywhere, and the demo's pictures are SVGs).
 */
export function ProductImage({ url, name, size, eager = false }: { url: string | null; name: string; size: number; eager?: boolean }) {
  if (!url) {
    return (
      <div className="product-img product-img-none" style={{ aspectRatio: "1 / 1" }} role="img" aria-label={`No picture of ${name}`} data-testid="picture-none">
        <svg viewBox="0 0 24 24" width="40%" height="40%" aria-hidden="true" focusable="false">
          <path fill="currentColor" d="M21 19V5a2 2 0 0 0-2-2H5a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2ZM8.5 13.5l2.5 3 3.5-4.5 4.5 6H5l3.5-4.5Z" />
        </svg>
      </div>
    );
  }
  return (
    <Image
      className="product-img"
      src={url}
      alt={name}
      width={size}
      height={size}
      unoptimized
      loading={eager ? "eager" : "lazy"}
      data-testid="picture"
    />
  );
}
