üþ›^áï4YXFY d úv½ÍÉz Çÿ’ôMöX¢ŽB¢fJ	–Zø5xWÀ­rx~ 
žVùÁ&h