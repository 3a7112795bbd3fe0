# Pillow's side of the decode benchmark: decode each JPEG to RGB and resize it to 224x224 with Pillow's
# antialiased bilinear filter, on one core; prints pillow_per_s=<images per second> (best of the rounds).
# With "draft", Pillow first lets libjpeg scale in the DCT domain (Image.draft), as our reduced decode does.
import sys, time
from PIL import Image

files = [line.strip() for line in open(sys.argv[1]) if line.strip()]
rounds = int(sys.argv[2])
draft = len(sys.argv) > 3 and sys.argv[3] == "draft"
best = float("inf")
for _ in range(rounds):
    start = time.perf_counter()
    for f in files:
        with Image.open(f) as im:
            if draft:
                im.draft("RGB", (224, 224))
            im.convert("RGB").resize((224, 224), Image.BILINEAR)
    best = min(best, time.perf_counter() - start)
print(f"pillow_per_s={len(files) / best:.1f}")
