// The files an inject carries: images inline (with their title as the alt text and the
// caption), every other file as a link that downloads it. The server checks, file by
// file, that this viewer may see the inject (GET /api/drills/{id}/attachments/{seq}/{index}).
import { el } from "./dom.js";

const IMAGE = /\.(png|jpe?g|gif|webp)$/i;

/** A <div> of the inject event's attachments, or null if it carries none. */
export function attachmentsOf(drillId, e) {
  const files = e.data.attachments || [];
  if (!files.length) return null;
  const box = el("div", "attachments");
  files.forEach((file, index) => {
    const url = `/api/drills/${encodeURIComponent(drillId)}/attachments/${e.seq}/${index}`;
    if (IMAGE.test(file.file)) {
      const figure = el("figure", "attachment-image");
      const img = el("img");
      img.src = url;
      img.alt = file.title;
      img.loading = "lazy";
      figure.append(img, el("figcaption", "small muted", file.title));
      box.append(figure);
    } else {
      const link = el("a", "attachment-file", `${file.title} (${file.file.split("/").pop()})`);
      link.href = url;
      link.setAttribute("download", "");
      box.append(link);
    }
  });
  return box;
}
