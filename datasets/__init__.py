"""Everything that reads or builds data (images, masks, depth, Flickr, synthetic scenes)."""
