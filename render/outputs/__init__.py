"""What is made from stored frames: videos now; prints and contact sheets share this package."""
