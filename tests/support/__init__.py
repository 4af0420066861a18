"""What several test folders share: the headless-browser fixture, files a killed writer leaves."""
